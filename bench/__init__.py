"""sealbox benchmarks: sealbox and its anchor measured side by side, in one run."""
