"""A real VM under QEMU: a Debian image built locally, a NoCloud seed, one boot."""
