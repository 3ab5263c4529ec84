"""A simulated k3s/k0s control plane for the plugin's own tests. Never for users."""
