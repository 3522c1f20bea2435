"""Build glue for one thing pyproject.toml cannot say: the default models.

They are kept at the top of the checkout (``models/<view>/``), where training
writes them; the wheel carries them as ``xrbridge/default_models/<view>/`` so
that ``xrbridge demo`` runs from an installed wheel
(``xrbridge.bridge.runner.repo_models_dir`` looks there first).
Everything else is in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["xrbridge*"]), "xrbridge.default_models"],
    package_dir={"xrbridge.default_models": "models"},
    package_data={"xrbridge.default_models": ["*/manifest.json", "*/model.onnx", "*/roi.png"]},
)
