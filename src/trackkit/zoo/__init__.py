"""Models by name: the registry of every model trackkit runs, its cache and installer.

    from trackkit import zoo
    zoo.fetch("yolox-nano", source="../shared/weights")   # into the cache, sha256 checked
    path = zoo.resolve("yolox-nano", task="detect")        # the file to load

:mod:`~trackkit.zoo.catalog` is the table (task, files, sizes, sha256, licence, release URL,
input convention); :mod:`~trackkit.zoo.cache` the cache folder and :func:`resolve`, which
every model option calls; :mod:`~trackkit.zoo.fetch` the installer. The command is
``trackkit models list | info | fetch | path | verify``.
"""

from trackkit.zoo.cache import cache_dir, resolve, status
from trackkit.zoo.catalog import MODELS, ModelFile, ModelInfo, get_model, is_model_name, model_names
from trackkit.zoo.fetch import FetchResult, fetch

__all__ = [
    "MODELS",
    "FetchResult",
    "ModelFile",
    "ModelInfo",
    "cache_dir",
    "fetch",
    "get_model",
    "is_model_name",
    "model_names",
    "resolve",
    "status",
]
