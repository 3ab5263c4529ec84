"""A test machine reached over SSH: an sshd container and a stand-in k3s to install on it."""
