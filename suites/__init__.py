"""The conformance and behaviour suites, shipped as ``pytest_k8sdistro.suites``.

From a checkout: ``pytest suites --distro=k3s``. Installed:
``pytest --pyargs pytest_k8sdistro.suites --distro=k3s``, or one suite:
``pytest --pyargs pytest_k8sdistro.suites.test_dns --distro=k3s``.
"""
