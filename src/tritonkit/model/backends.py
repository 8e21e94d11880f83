"""The model file a platform / backend loads from each version folder, as the server decides it.

Mirrors `AutoCompleteBackendFields` in triton-inference-server/core `src/model_config_utils.cc` (the
file names are the `k*Filename` constants of `src/constants.h`): an explicit `default_model_filename`
wins; otherwise the platform, then the backend, names the file. The core only looks inside the
version folder when both are empty (a config-less model), which the layout rules handle themselves.
"""

from __future__ import annotations

# platform -> file (kTensorFlow*/kTensorRTPlan/kOnnxRuntimeOnnx/kPyTorchLibTorch/kPyTorchAoti filenames)
PLATFORM_FILES: dict[str, str] = {
    "tensorflow_savedmodel": "model.savedmodel",
    "tensorflow_graphdef": "model.graphdef",
    "tensorrt_plan": "model.plan",
    "onnxruntime_onnx": "model.onnx",
    "pytorch_libtorch": "model.pt",
    "libtorch": "model.pt",  # kPyTorchLibTorchPlatformAlt
    "torch_aoti": "model.pt2",
}
# backend -> file, when the platform does not say (a TF backend without platform: its SavedModel default)
BACKEND_FILES: dict[str, str] = {
    "tensorflow": "model.savedmodel",
    "tensorrt": "model.plan",
    "onnxruntime": "model.onnx",
    "openvino": "model.xml",
    "pytorch": "model.pt",
    "python": "model.py",
}


def model_file_for(platform: str, backend: str, default_model_filename: str | None = None) -> str | None:
    """The file the server loads from a version folder; None for ensembles and custom backends.

    In the core's order: `default_model_filename`; a TensorFlow platform; then the backend when it is
    set (a set backend wins over the platform, except PyTorch's `torch_aoti` platform, which picks
    model.pt2); then the platform. A custom backend is handed the version folder and picks its own
    file, so there is nothing to name unless the config sets `default_model_filename`.
    """
    if default_model_filename:
        return default_model_filename
    if platform.startswith("tensorflow_") and platform in PLATFORM_FILES:
        return PLATFORM_FILES[platform]
    if backend:
        if backend == "pytorch" and platform == "torch_aoti":
            return PLATFORM_FILES[platform]
        return BACKEND_FILES.get(backend)
    return PLATFORM_FILES.get(platform)
