"""Footprint of a distribution: memory in use, disk used, time to ready.

- :mod:`.memory`: a node's memory read from outside it (cgroup v1/v2 working set
  of a container node, MemTotal - MemAvailable of a VM or host node).
- :mod:`.sampler`: min, median and max over a settle window.
- :mod:`.disk`: bytes of the distribution's install inside the node, and its image.
- :mod:`.tier` and :mod:`.tiers`: the memory tiers by name, and deploying and
  measuring them in order.
- :mod:`.nodes`: what measures a cluster's nodes, through its provisioner.

Nothing is imported here, so the options can name tiers without loading the clients.
"""
