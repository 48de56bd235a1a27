"""The service's routes, one module per area: public pages, a learner's pages, the JSON API, the host's pages."""
