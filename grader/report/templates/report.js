// After everything has loaded, record on each report part whether it is really shown: a
// browser test (or a curious reader) reads these attributes from the rendered page.
window.addEventListener("load", function () {
  document.querySelectorAll("[data-part]").forEach(function (element) {
    var box = element.getBoundingClientRect();
    var style = window.getComputedStyle(element);
    var shown = box.width > 0 && box.height > 0 && style.visibility !== "hidden" && style.display !== "none";
    if (element.tagName === "IMG") {
      element.dataset.naturalSize = element.naturalWidth + "x" + element.naturalHeight;
      shown = shown && element.complete && element.naturalWidth > 0;
    }
    element.dataset.visible = String(shown);
  });
  document.body.dataset.pageHeight = String(document.documentElement.scrollHeight);
  document.body.dataset.loaded = "true";
});
