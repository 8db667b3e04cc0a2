"""Program analysis: dataflow graph, dead code, canonical hash, fingerprint, simplifier."""
