"""The table of every model trackkit can run, by name.

Each :class:`ModelInfo` says what the model does (``task``), which files make it (name, size in
bytes, sha256 — the bytes the loaders were checked against), its licence, the official release
it comes from, where each exact file can be downloaded (``url``: the raw file at a fixed commit,
so that its hash never changes; ``None`` for files derived here, which come only from a mirror
folder) and the input convention its loader applies. ``folder`` is the model's folder in a
mirror laid out like ``../shared/weights``. Models with ``packaged=True`` are trackkit's own,
shipped inside the package (``trackkit/assets``).

Tasks: ``detect`` (``--detector``), ``sot`` (``--weights`` of a single-object tracker),
``reid`` (``--reid`` / ``--model``).
"""

from __future__ import annotations

from dataclasses import dataclass

from trackkit.errors import ConfigError

__all__ = ["MODELS", "TASKS", "ModelFile", "ModelInfo", "get_model", "is_model_name", "model_names"]

TASKS = ("detect", "sot", "reid")

_KAZ_MOT = "https://raw.githubusercontent.com/Kazuhito00/MOT-Tracking-by-Detection-Pipeline/e50a76b8b430b778276e7fd04fd4cafd5d45eab2"  # noqa: E501
_PICODET = "https://raw.githubusercontent.com/hpc203/picodet-onnxruntime/dfe4d6cd0a18cd4126ee381e81df8a0b1e6ad97b/coco"  # noqa: E501
_NANO = "https://raw.githubusercontent.com/HonglinChu/SiamTrackers/248663fde6bf7c40190cf10ee396d5662919ecd3/NanoTrack/models"  # noqa: E501
_OSNET = "https://raw.githubusercontent.com/jen1902/Yolov5_StrongSORT_OSNet_VATS/bb465e8717317199927dea09d773b091687bd68e/strong_sort/deep/checkpoint"  # noqa: E501


@dataclass(frozen=True)
class ModelFile:
    """One file of a model: its name, size (bytes), sha256 (hex) and download URL."""

    name: str
    size: int
    sha256: str
    url: str | None = None


@dataclass(frozen=True)
class ModelInfo:
    """One model of the registry (see the module docstring)."""

    name: str
    task: str
    files: tuple[ModelFile, ...]
    licence: str
    release: str
    convention: str
    folder: str = ""
    packaged: bool = False
    #: detectors: preference as the default person detector (1 = best), from the AP50 on
    #: MOT17 of benchmarks/detectors.py (docs/benchmarks.md)
    person_rank: int = 0
    kind: str = ""  # detectors: the DETECTORS entry that runs it

    @property
    def size(self) -> int:
        """Total bytes of the model's files."""
        return sum(f.size for f in self.files)

    @property
    def is_folder(self) -> bool:
        """The model is a folder of several files (its loaders take the folder)."""
        return len(self.files) > 1


def _det(
    name: str,
    file: ModelFile,
    folder: str,
    kind: str,
    rank: int,
    *,
    licence: str,
    release: str,
    convention: str,
) -> ModelInfo:
    return ModelInfo(name, "detect", (file,), licence, release, convention, folder=folder,
                     kind=kind, person_rank=rank)  # fmt: skip


MODELS: dict[str, ModelInfo] = {m.name: m for m in (
    *(_det(name, ModelFile(
        f"picodet_s_{size}_coco.onnx", nbytes, sha, f"{_PICODET}/picodet_s_{size}_coco.onnx"),
        "picodet_s", "picodet", rank,
        licence="Apache-2.0 (PaddleDetection)",
        release="https://github.com/PaddlePaddle/PaddleDetection/tree/release/2.3/configs/picodet",
        convention=f"[1,3,{size},{size}] RGB, plain resize, ImageNet mean/std; GFL outputs, "
        "strides 8-64, 80 COCO classes") for name, size, nbytes, sha, rank in (
        ("picodet-s", 416, 4040573,
         "cdab77bdde16e4f76bec734c4e5791801d1739e4c7ec1995e0e110e04300d0c2", 2),
        ("picodet-s-320", 320, 4040569,
         "d7852a1508b36bfc2739770ad52ff28bf81e219dc5c15dd7868d5ebdf007b6c8", 3))),
    _det("yolox-nano", ModelFile(
        "yolox_nano_416x416.onnx", 3660092,
        "695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14",
        f"{_KAZ_MOT}/Detector/yolox/model/yolox_nano_416x416.onnx"), "yolox_nano", "yolox", 1,
        licence="Apache-2.0 (Megvii YOLOX)",
        release="https://github.com/Megvii-BaseDetection/YOLOX",
        convention="[1,3,416,416] BGR 0-255, letterbox top-left pad 114; raw grid output "
        "[1,3549,85], strides 8/16/32, 80 COCO classes"),
    _det("fastestdet", ModelFile(
        "FastestDet.onnx", 998169,
        "31cb14c017fce347cb4c846ec62fdf00d76bb3beecdf4be21e7116ac67feb880",
        "https://raw.githubusercontent.com/dog-qiuqiu/FastestDet/"
        "50473cd155cb088aa4a99e64ff6a4b3c24fa07e1/example/onnx-runtime/FastestDet.onnx"),
        "fastestdet", "fastestdet", 4,
        licence="BSD-3-Clause (xuehao.ma)", release="https://github.com/dog-qiuqiu/FastestDet",
        convention="[1,3,352,352] BGR /255, plain resize; one stride-16 grid [1,85,22,22], "
        "80 COCO classes"),
    ModelInfo("nanotrack-v2", "sot", (
        ModelFile("nanotrack_backbone_sim.onnx", 1056849,
                  "530bdd0cd00f19afab79a863e71ba71e3312395a5dc9151af675082bdaaa2fc4",
                  f"{_NANO}/nanotrackv2/nanotrack_backbone_sim.onnx"),
        ModelFile("nanotrack_head_sim.onnx", 726198,
                  "0d8c0637be849f092cc7236cae02e55c8b9455ebe37ba50601d6115db4247cd9",
                  f"{_NANO}/nanotrackv2/nanotrack_head_sim.onnx")),
        licence="Apache-2.0", release="https://github.com/HonglinChu/SiamTrackers/tree/master/NanoTrack",
        convention="backbone on 127/255 BGR 0-255 crops, head on the two feature maps",
        folder="nanotrack_v2"),
    ModelInfo("nanotrack-v3", "sot", (
        ModelFile("nanotrack_backbone.onnx", 1431635,
                  "50be1320abf9384fd3479ea829f95e244cf3f3838190c5ab60c750fb8c1ce828",
                  f"{_NANO}/nanotrackv3/nanotrack_backbone.onnx"),
        ModelFile("nanotrack_head.onnx", 1183740,
                  "75357903be3f4817c965af16cb5a11fd32b1467f597a408405a98635ac63f61d",
                  f"{_NANO}/nanotrackv3/nanotrack_head.onnx")),
        licence="Apache-2.0", release="https://github.com/HonglinChu/SiamTrackers/tree/master/NanoTrack",
        convention="backbone on 127/255 BGR 0-255 crops, head on the two feature maps",
        folder="nanotrack_v3"),
    ModelInfo("vit-tracker", "sot", (ModelFile(
        "object_tracking_vittrack_2023sep.onnx", 714726,
        "2990f0b7cd44d92afa48cd97db6de7be113fc1d9594fddb74e2725c10478e91d",
        "https://raw.githubusercontent.com/Kazuhito00/OpenCV-Object-Tracker-Python-Sample/"
        "fda4a40d1909e87b325906e57a5bab56c61fb3dd/model/vit/object_tracking_vittrack_2023sep.onnx"),),
        licence="Apache-2.0 (OpenCV zoo)",
        release="https://github.com/opencv/opencv_zoo/tree/main/models/object_tracking_vittrack",
        convention="template [1,3,128,128], search [1,3,256,256], RGB /255, ImageNet mean/std",
        folder="vittrack"),
    ModelInfo("udt", "sot", (ModelFile(
        "udt_model_best_state_dict.pt", 43217,
        "cf2377d6c4b8fff684eb04f79b3b372f03bf3a5a9a5b54da4a8deade59646a47"),),
        licence="MIT (Ning Wang)", release="https://github.com/594422814/UDT_pytorch",
        convention="state_dict of the 2-conv DCF feature net (derived from model_best.pth.tar: "
        "no download URL, install it from a mirror folder); the `udt` tracker's default "
        "(trackkit's own UDT is `udt-own`, docs/sot-udt.md)", folder="udt"),
    ModelInfo("dcfnet", "sot", (ModelFile(
        "param.pth", 41232, "8a9c2ad0a25998d873152e67f2bc4ff83ed2cfed54f4f08cb8acd37810dfc0b8",
        "https://raw.githubusercontent.com/foolwood/DCFNet_pytorch/"
        "b8434baa2d136df8f55c1addb3e77f40b3c379fc/track/param.pth"),),
        licence="MIT (Qiang Wang)", release="https://github.com/foolwood/DCFNet_pytorch",
        convention="state_dict of the 2-conv DCF feature net, BGR crops minus the mean",
        folder="dcfnet"),
    *(ModelInfo(f"omz-{k}", "reid", (ModelFile(
        f"person-reidentification-retail-{k}.onnx", size, sha,
        f"{_KAZ_MOT}/Tracker/person_reid/model/person-reidentification-retail-{k}.onnx"),),
        licence="Apache-2.0 (Intel Open Model Zoo)",
        release="https://github.com/openvinotoolkit/open_model_zoo",
        convention="NHWC [1,256,128,3] BGR 0-255; 256-d embedding, cosine distance",
        folder="omz_person_reid") for k, size, sha in (
        ("0248", 806257, "43891ce644ff6f4c70cce150028e44d6cf3d150cb5a3eb75bf69bfaef0ebe789"),
        ("0287", 2454677, "f35a22885b93aa0c249d665b4cf5510d08ded92f814694c3c2fec0112b0d3a56"),
        ("0288", 813323, "f3966d905e7232026aa8b814c328231a7b45c5b6b4dd32f886894223c4441b80"))),
    *(ModelInfo(f"osnet-x0.25-{d}", "reid", (ModelFile(
        f"osnet_x0_25_{d}.pth", size, sha, f"{_OSNET}/osnet_x0_25_{d}.pth"),),
        licence="MIT (torchreid, Kaiyang Zhou)",
        release="https://github.com/KaiyangZhou/deep-person-reid/blob/master/docs/MODEL_ZOO.md",
        convention="torchreid state_dict; RGB 256x128, /255, ImageNet mean/std; 512-d feature",
        folder=f"osnet_x0_25_{d}") for d, size, sha in (
        ("msmt17", 3057863, "6f57607fed9f502b9efed546108132ee715df5a5b6e6932c6269bacb47f59f99"),
        ("market1501", 2462783,
         "c0ff09177a21417a19bc73bbf5af4eb5d2b097c2074ed35e67819ee6cd93612c"))),
    *(ModelInfo(name, task, (ModelFile(file, size, sha),), licence="trackkit's own",
                release=f"trained by trackkit ({cmd}; see docs/benchmarks.md)",
                convention=conv, packaged=True) for name, task, file, size, sha, cmd, conv in (
        ("siamfc", "sot", "siamfc.pt", 551386,
         "2a3a9686c11449afccd1ceab8ebc5f6d9adde7a44088cd6a797ba566bde983e2",
         "trackkit sot train --model siamfc", "trackkit weights file, BGR crops"),
        ("goturn", "sot", "goturn.pt", 5282335,
         "c1993790b05f6d7035e670c5dfd984e5eb3cf3a2f76608efcc21d1857573b51b",
         "trackkit sot train --model goturn", "trackkit weights file, BGR crops"),
        ("mdnet", "sot", "mdnet.pt", 2759269,
         "fdae38def8f4dd417ec7fccdbd45b0b9e500561d22650f95128af088eacfd0ff",
         "trackkit sot train --model mdnet", "trackkit weights file, BGR crops"),
        ("siamrpn-own", "sot", "siamrpn.pt", 273169,
         "86ff4f055883cf43453761698170ce4fbc218c2f047fe88e388432983a4e9c20",
         "trackkit sot train --model siamrpn", "trackkit weights file, BGR crops"),
        ("udt-own", "sot", "udt.pt", 8605,
         "a611d8b50c7f57fe8fe48ed234dde422dfd88b9ea948241533824d86085ae288",
         "trackkit sot train --model dcfnet --mode udt", "trackkit weights file, BGR crops"),
        ("memtrack", "sot", "memtrack.pt", 1073861,
         "9a5454f8e896da6c9ddd78ddd19fba25b38cf363928bbc42550a81ec2aba5e35",
         "trackkit sot train --model memtrack", "trackkit weights file, BGR crops"),
        ("adnet", "sot", "adnet.pt", 5104671,
         "694dd1be2405a9df7ab534c577b327bd498032f4278692ea13bb864aa40626e9",
         "trackkit sot train --model adnet", "trackkit weights file, BGR crops"),
        ("rolo", "sot", "rolo.pt", 1325901,
         "7296ea76dd3ac21892a920790eead1321ef129fb2426739da3b6c2ec3f9bb69f",
         "trackkit sot train --model rolo", "trackkit weights file, BGR crops"),
        ("reid-osnet-x0.25-distilled", "reid", "reid_osnet_x0_25_distilled.pt", 1028555,
         "7defa45fb8f45de73d366ec162bd11edb3586225369e9ab0fc154de457954191",
         "trackkit reid train --teacher omz-0248, docs/reid.md",
         "trackkit weights file, BGR 160x80 crops, 512-d; the default --reid model"),
        ("reid-osnet-x0.25-distilled-plain", "reid", "reid_osnet_x0_25_distilled_plain.pt",
         1028491, "a1070d20d0a7a7ef2e76512369c8f24f113aee56246ac02e51884f2064965964",
         "trackkit reid train --teacher omz-0248, docs/reid.md",
         "trackkit weights file, BGR 160x80 crops, 512-d; the default --reid model until "
         "the colour-augmented run"),
        ("reid-resnet-w32-cuhk03", "reid", "reid_resnet_w32_parts_cuhk03.pt", 4955151,
         "9bae3a4bc36b58615798ba7080c45b6f213c93d254c968867a66f7b05cfcead0",
         "trackkit reid train", "trackkit weights file; the default --reid model until "
         "the distilled OSNet"))),
)}  # fmt: skip


def _key(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")


_BY_KEY = {_key(n): m for n, m in MODELS.items()}


def get_model(name: str, task: str | None = None) -> ModelInfo:
    """The registry entry ``name`` (``_``, ``.`` and ``-`` are the same, case ignored).

    Raises:
        ConfigError: no such model (or one of another task); the message lists the valid names.
    """
    info = _BY_KEY.get(_key(name))
    if info is None or (task is not None and info.task != task):
        valid = ", ".join(model_names(task))
        what = f"{task} model" if task else "model"
        raise ConfigError(f"unknown {what} {name!r}; valid: {valid} (see 'trackkit models list')")
    return info


def model_names(task: str | None = None) -> list[str]:
    """Names of the registry's models (of one task), in table order."""
    return [m.name for m in MODELS.values() if task is None or m.task == task]


def is_model_name(name: str) -> bool:
    """``name`` is a registry name (``_``, ``.`` and ``-`` are the same, case ignored)."""
    return _key(name) in _BY_KEY
