"""Loading into Oracle Fusion: per-release format specs (`load.formats`), the FBDI writer
(`load.fbdi`), deterministic zips and export manifests with a hash chain (`load.manifest`)."""
