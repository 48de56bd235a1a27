# Writes a file into the host's /tmp -> /tmp is private to the sandbox; nothing appears on the host.
with open("/tmp/hostile-host-canary", "w") as _f:
    _f.write("written from a submission")
