"""Loads another script of this directory as a module (their file names have dashes, so
`import` cannot name them), for the Python peers that share a step."""

import importlib.util
import os


def load(name):
    spec = importlib.util.spec_from_file_location(
        name.replace("-", "_").removesuffix(".py"),
        os.path.join(os.path.dirname(os.path.abspath(__file__)), name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
