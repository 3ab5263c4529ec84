"""Project-wide pytest configuration.

The plugin itself is loaded through its ``pytest11`` entry point once the package
is installed; nothing needs registering here. Suites share helpers through
``suites/conftest.py``.
"""
