"""``--distro-provisioner=qemu``: a throwaway VM per cluster, booted with qemu-system-x86_64.

Modules, one job each: :mod:`.command` (the QEMU command line and the choice of
accelerator), :mod:`.image` (the default cloud image, downloaded once and verified),
:mod:`.seed` (the NoCloud seed), :mod:`.state` (each VM's directory, its owner
record, and reaping what dead runs left), :mod:`.qmp` (QEMU's control socket),
:mod:`.vm` (booting and powering off one VM) and :mod:`.provisioner`.
"""
