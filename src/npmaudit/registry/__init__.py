"""The npm registry's package documents, for every command that needs them (npm's report, and next
``fix`` and ``signatures``): fetching and caching packuments (:mod:`npmaudit.registry.packuments`)
and choosing a version from one the way npm does (:mod:`npmaudit.registry.pick_manifest`)."""
