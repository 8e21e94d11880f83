"""An inference client that knows the model: data types, shapes and the batch dim come from the server.

`Client(url, protocol="http"|"grpc")` reads each model's metadata and config once (cached), fills in
wire data types (FP32, BYTES, BF16...), adds the implicit batch dimension when the caller left it
out, checks names and shapes before sending, and returns outputs as reshaped numpy arrays. The
tritonclient HTTP/gRPC client is created lazily on first use and reused for every request.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tritonkit.errors import InferenceError, ServerNotReadyError, UsageError, import_optional
from tritonkit.model.dtypes import BY_WIRE

if TYPE_CHECKING:
    from numpy.typing import NDArray

PROTOCOLS = ("http", "grpc")
DEFAULT_PORTS = {"http": 8000, "grpc": 8001}


@dataclass(frozen=True)
class TensorInfo:
    """One input or output as the server declares it. `dims` exclude the batch dim."""

    name: str
    wire_type: str
    dims: tuple[int, ...]
    optional: bool = False

    @property
    def numpy_type(self) -> str:
        return BY_WIRE[self.wire_type].numpy if self.wire_type in BY_WIRE else "object"


@dataclass(frozen=True)
class ModelInfo:
    """What a client must know to call a model: its tensors and whether it batches."""

    name: str
    version: str
    max_batch_size: int
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    config: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def batched(self) -> bool:
        return self.max_batch_size > 0

    def input(self, name: str) -> TensorInfo | None:
        return next((t for t in self.inputs if t.name == name), None)

    def full_shape(self, tensor: TensorInfo, batch: int = 1) -> list[int]:
        """The shape sent on the wire: the batch dim first when the model batches."""
        return ([batch] if self.batched else []) + list(tensor.dims)

    @functools.cached_property
    def fast_inputs(self) -> tuple[tuple[str, Any, tuple[int, ...]], ...] | None:
        """(name, numpy dtype, dims) per input, for the fast path of `coerce_inputs` (None: no fast path)."""
        import numpy as np

        if any(t.optional or t.wire_type in ("BYTES", "BF16") for t in self.inputs):
            return None
        return tuple((t.name, np.dtype(t.numpy_type), t.dims) for t in self.inputs)

    @functools.cached_property
    def wire_types(self) -> dict[str, str]:
        return {t.name: t.wire_type for t in (*self.inputs, *self.outputs)}


def normalize_url(url: str | None, protocol: str) -> str:
    """`localhost:8000`, `http://host:8000`, `grpc://host` -> `host:port` (default port by protocol)."""
    if protocol not in PROTOCOLS:
        raise UsageError(f"unknown protocol {protocol!r}", hint="use --protocol http or --protocol grpc")
    if not url:
        return f"localhost:{DEFAULT_PORTS[protocol]}"
    text = re.sub(r"^(https?|grpc)://", "", url.strip()).rstrip("/")
    if not text:
        raise UsageError(f"bad server URL {url!r}", hint="give host:port, e.g. localhost:8000")
    if ":" not in text.rsplit("]", 1)[-1]:
        text = f"{text}:{DEFAULT_PORTS[protocol]}"
    return text


def _shape_hint(info: ModelInfo | None) -> str:
    if info is not None and info.batched:
        example = ", ".join(str(d) for d in (1, *info.inputs[0].dims)) if info.inputs else "1, ..."
        return (
            f"max_batch_size > 0 means a batch dim is prepended: send shape [{example}] "
            f"(config dims {list(info.inputs[0].dims) if info.inputs else []} exclude it)"
        )
    return "max_batch_size > 0 means a batch dim is prepended: send shape [1, ...]"


class Client:
    """Calls models on a running Triton server; caches their metadata and the connection."""

    def __init__(
        self,
        url: str | None = None,
        protocol: str = "http",
        *,
        timeout: float = 60.0,
        _models: dict[tuple[str, str], ModelInfo] | None = None,
    ) -> None:
        self.protocol = protocol.lower()
        self.url = normalize_url(url, self.protocol)
        self.timeout = timeout
        self._conn: Any = None
        self._models: dict[tuple[str, str], ModelInfo] = {} if _models is None else _models

    # -- connection -------------------------------------------------------------------------------
    def fork(self) -> Client:
        """A new client (own connection, e.g. for another thread) sharing the model-info cache."""
        return Client(self.url, self.protocol, timeout=self.timeout, _models=self._models)

    def _connection(self) -> Any:
        if self._conn is None:
            module = import_optional(
                f"tritonclient.{self.protocol}",
                package=f"tritonclient[{self.protocol}]",
                extra="client",
                needed_for=f"talking to the server over {self.protocol.upper()}",
            )
            try:
                if self.protocol == "grpc":
                    self._conn = module.InferenceServerClient(self.url)
                else:
                    self._conn = module.InferenceServerClient(
                        self.url, connection_timeout=self.timeout, network_timeout=self.timeout
                    )
            except Exception as exc:  # tritonclient raises plain Exceptions on bad URLs
                raise UsageError(f"cannot use server URL {self.url!r}: {exc}") from exc
        return self._conn

    @functools.cached_property
    def _module(self) -> Any:
        """tritonclient.http or tritonclient.grpc (InferInput, InferRequestedOutput)."""
        self._connection()  # reports a missing client as a UsageError
        if self.protocol == "grpc":
            import tritonclient.grpc as grpc_module

            return grpc_module
        import tritonclient.http as http_module

        return http_module

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _unreachable(self, exc: BaseException) -> ServerNotReadyError:
        return ServerNotReadyError(
            f"cannot reach a Triton server at {self.url} ({self.protocol}): {_describe(exc)}",
            hint="start one with `tritonkit serve --local --detach`, or pass --url host:port"
            + (" (gRPC listens on 8001 by default)" if self.protocol == "grpc" else ""),
        )

    def _call(self, what: str, fn: Any, *args: Any, model: str | None = None, **kwargs: Any) -> Any:
        """Run one tritonclient call; translate its exceptions into tritonkit's."""
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise self._translate(exc, what, model) from exc

    def _translate(self, exc: Exception, what: str, model: str | None) -> Exception:
        from tritonclient.utils import InferenceServerException

        if isinstance(exc, InferenceServerException):
            message = str(exc.message() or exc)
            status = str(exc.status() or "")
            if (
                "UNAVAILABLE" in status
                or "failed to connect" in message.lower()
                or "connection" in message.lower()
            ):
                return self._unreachable(exc)
            return self._server_error(message, what, model)
        if isinstance(exc, (OSError, EOFError)) or type(exc).__module__.startswith(
            ("gevent", "geventhttpclient")
        ):
            return self._unreachable(exc)
        return exc

    def _server_error(self, message: str, what: str, model: str | None) -> InferenceError:
        message = re.sub(r"^\[request id: [^\]]*\]\s*", "", message.strip())
        hint = None
        low = message.lower()
        if "unknown model" in low or "is not found" in low or "not ready" in low:
            hint = self._models_hint()
            if model:
                message = f"the server at {self.url} has no ready model {model!r} ({message})"
                return InferenceError(message, hint=hint)
        elif "unexpected shape" in low:
            info = self._models.get((model or "", ""))
            hint = _shape_hint(info)
        elif "unexpected inference input" in low:
            info = self._models.get((model or "", ""))
            if info:
                hint = "the model's inputs are " + ", ".join(t.name for t in info.inputs)
        return InferenceError(f"{what}: {message}", hint=hint)

    def _models_hint(self) -> str:
        try:
            names = self.model_names()
        except Exception:
            return "check the model name (`tritonkit status` lists what is loaded)"
        return (
            ("models ready on the server: " + ", ".join(names))
            if names
            else "no model is ready on the server"
        )

    # -- server and model information ----------------------------------------------------------------
    def server_ready(self) -> bool:
        """True when the server answers and reports ready; False when it cannot be reached."""
        try:
            return bool(self._connection().is_server_ready())
        except Exception:
            return False

    def check_server(self) -> None:
        """Raise ServerNotReadyError unless the server answers and is live."""
        conn = self._connection()
        try:
            live = conn.is_server_live()
        except Exception as exc:
            raise self._unreachable(exc) from exc
        if not live:
            raise ServerNotReadyError(f"the Triton server at {self.url} is not live")

    def model_names(self) -> list[str]:
        """Names of the models the server reports READY."""
        conn = self._connection()
        if self.protocol == "grpc":
            index = self._call("repository index", conn.get_model_repository_index, as_json=True).get(
                "models", []
            )
        else:
            index = self._call("repository index", conn.get_model_repository_index)
        return sorted({m["name"] for m in index if m.get("state") == "READY"})

    def model_info(self, model: str, version: str = "") -> ModelInfo:
        """Metadata and config of `model`, read once per client family and cached."""
        key = (model, version)
        cached = self._models.get(key)
        if cached is not None:
            return cached
        conn = self._connection()
        if self.protocol == "grpc":
            meta = self._call(
                f"model {model!r}", conn.get_model_metadata, model, version, as_json=True, model=model
            )
            config = self._call(
                f"model {model!r}", conn.get_model_config, model, version, as_json=True, model=model
            )
            config = config.get("config", config)
        else:
            meta = self._call(f"model {model!r}", conn.get_model_metadata, model, version, model=model)
            config = self._call(f"model {model!r}", conn.get_model_config, model, version, model=model)
        info = _model_info(model, meta, config)
        self._models[key] = info
        return info

    # -- model control (explicit model-control mode) ------------------------------------------------
    def model_ready(self, model: str) -> bool:
        """True when `model` is loaded and ready."""
        return bool(self._call(f"model {model!r}", self._connection().is_model_ready, model, model=model))

    def load_model(self, model: str, config_json: str | None = None) -> None:
        """(Re)load `model`, from its config on disk or from `config_json` overriding it. Clears the cache."""
        for key in [k for k in self._models if k[0] == model]:
            del self._models[key]
        try:
            self._connection().load_model(model, config=config_json)
        except Exception as exc:
            if _refuses_model_control(exc):
                raise ServerNotReadyError(
                    f"the server at {self.url} does not allow loading models (it polls its repository)",
                    hint="start it in explicit model-control mode: "
                    "`tritonkit serve --local --detach --model-control-mode explicit`",
                ) from exc
            raise self._translate(exc, f"loading model {model!r}", None) from exc

    def unload_model(self, model: str) -> None:
        for key in [k for k in self._models if k[0] == model]:
            del self._models[key]
        self._call(f"unloading model {model!r}", self._connection().unload_model, model)

    # -- inference -------------------------------------------------------------------------------
    def prepare(self, model: str, inputs: Any, version: str = "") -> tuple[dict[str, NDArray[Any]], bool]:
        """Check and convert `inputs` for `model`: the arrays to send, and whether a batch dim was added."""
        info = self.model_info(model, version)
        return coerce_inputs(info, inputs)

    def infer(
        self,
        model: str,
        inputs: Any,
        *,
        outputs: list[str] | None = None,
        version: str = "",
    ) -> dict[str, NDArray[Any]]:
        """Run `model` on `inputs` (a dict name -> array-like, or one array for a one-input model).

        Outputs come back by name as numpy arrays of the right shape. When every input was given
        without the batch dim, one is added for the request and removed again from the outputs.
        """
        info = self.model_info(model, version)
        arrays, added = coerce_inputs(info, inputs)
        wanted = self._check_outputs(info, outputs)
        result = self._send(info, arrays, wanted, version)
        out: dict[str, NDArray[Any]] = {}
        for tensor in info.outputs:
            if wanted is not None and tensor.name not in wanted:
                continue
            value = result.as_numpy(tensor.name)
            if value is None:
                continue
            if tensor.wire_type == "BF16":
                value = _from_wire(value, tensor.wire_type)
            if added and value.ndim > 0 and value.shape[0] == 1:
                value = value[0]
            out[tensor.name] = value
        return out

    def _check_outputs(self, info: ModelInfo, outputs: list[str] | None) -> list[str] | None:
        if outputs is None:
            return None
        known = [t.name for t in info.outputs]
        for name in outputs:
            if name not in known:
                raise UsageError(
                    f"model {info.name!r} has no output {name!r}", hint="its outputs are " + ", ".join(known)
                )
        return list(outputs)

    def _send(
        self, info: ModelInfo, arrays: dict[str, NDArray[Any]], wanted: list[str] | None, version: str
    ) -> Any:
        conn = self._connection()
        tc = self._module
        wire = info.wire_types
        infer_inputs = []
        for name, array in arrays.items():
            item = tc.InferInput(name, list(array.shape), wire[name])
            if self.protocol == "grpc":
                item.set_data_from_numpy(array)
            else:
                item.set_data_from_numpy(array, binary_data=True)
            infer_inputs.append(item)
        requested = None
        if wanted is not None:
            if self.protocol == "grpc":
                requested = [tc.InferRequestedOutput(n) for n in wanted]
            else:
                requested = [tc.InferRequestedOutput(n, binary_data=True) for n in wanted]
        # gRPC has no connection-wide timeout: bound each call, so a hung server cannot hang us.
        extra = {"client_timeout": self.timeout} if self.protocol == "grpc" else {}
        return self._call(
            f"inference on {info.name!r}",
            conn.infer,
            info.name,
            infer_inputs,
            model_version=version,
            outputs=requested,
            model=info.name,
            **extra,
        )


def _refuses_model_control(exc: Exception) -> bool:
    """The server's refusal of load/unload outside explicit mode (ModelRepositoryManager::LoadUnloadModel).

    The server says so only in its message ("... not allowed if polling is enabled"), with the
    status it uses for other failures too, so the reply's own text is what identifies it.
    """
    from tritonclient.utils import InferenceServerException

    return isinstance(exc, InferenceServerException) and "polling is enabled" in str(exc.message() or "")


def _describe(exc: BaseException) -> str:
    from tritonclient.utils import InferenceServerException

    if isinstance(exc, InferenceServerException):
        text = str(exc.message() or exc)
    else:
        text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _dims(values: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in values or [])


def _model_info(model: str, meta: dict[str, Any], config: dict[str, Any]) -> ModelInfo:
    """Build ModelInfo from the server's metadata (wire types) and config (batching, dims)."""
    max_batch = int(config.get("max_batch_size", 0) or 0)
    config_inputs = {str(t.get("name")): t for t in config.get("input", [])}
    config_outputs = {str(t.get("name")): t for t in config.get("output", [])}

    def tensors(items: list[dict[str, Any]], configured: dict[str, dict[str, Any]]) -> tuple[TensorInfo, ...]:
        result = []
        for t in items:
            name = str(t["name"])
            shape = _dims(t.get("shape"))
            if name in configured and configured[name].get("dims") is not None:
                dims = _dims(configured[name].get("dims"))
                # a reshape changes what the model sees, not what the client sends: trust metadata
                if configured[name].get("reshape"):
                    dims = shape[1:] if max_batch > 0 else shape
            else:
                dims = shape[1:] if max_batch > 0 and shape else shape
            result.append(
                TensorInfo(
                    name, str(t["datatype"]), dims, bool(configured.get(name, {}).get("optional", False))
                )
            )
        return tuple(result)

    versions = meta.get("versions") or [""]
    return ModelInfo(
        name=model,
        version=str(versions[-1]),
        max_batch_size=max_batch,
        inputs=tensors(meta.get("inputs", []), config_inputs),
        outputs=tensors(meta.get("outputs", []), config_outputs),
        config=config,
    )


def _to_wire(value: Any, tensor: TensorInfo) -> NDArray[Any]:
    """Convert one input to the numpy type its wire type needs (BYTES as object, BF16 via ml_dtypes)."""
    import numpy as np

    if tensor.wire_type == "BYTES":
        array = np.asarray(value, dtype=object)
        flat = [v.encode("utf-8") if isinstance(v, str) else v for v in array.reshape(-1)]
        out = np.empty(len(flat), dtype=object)
        out[:] = [v if isinstance(v, bytes) else str(v).encode("utf-8") for v in flat]
        return out.reshape(array.shape)
    array = np.asarray(value)
    if array.dtype == object or array.dtype.kind in "US":
        raise UsageError(
            f"input {tensor.name!r} is {tensor.wire_type}; got text/objects",
            hint="give numbers, e.g. --input " + tensor.name + "='[[1, 2, 3]]'",
        )
    if tensor.wire_type == "BF16":
        import ml_dtypes

        return array.astype(ml_dtypes.bfloat16)
    target = np.dtype(tensor.numpy_type)
    if array.dtype == target:
        return array
    if target.kind in "iu" and array.dtype.kind == "f" and not np.all(np.mod(array, 1) == 0):
        raise UsageError(
            f"input {tensor.name!r} is {tensor.wire_type}; got fractional values", hint="give integers"
        )
    return array.astype(target)


def _from_wire(value: NDArray[Any], wire_type: str) -> NDArray[Any]:
    import numpy as np

    if wire_type == "BF16":
        return np.asarray(value).astype(np.float32)  # numpy has no bfloat16; float32 holds every value
    return value


def _already_fit(info: ModelInfo, inputs: dict[str, Any]) -> bool:
    """True when `inputs` are exactly what goes on the wire (a library caller in a loop, the bench)."""
    import numpy as np

    fast = info.fast_inputs
    if fast is None or len(inputs) != len(fast):
        return False
    batched = info.max_batch_size > 0
    batch = -1
    for name, dtype, dims in fast:
        array = inputs.get(name)
        if not isinstance(array, np.ndarray) or array.dtype != dtype:
            return False
        shape = array.shape
        if batched:
            if len(shape) != len(dims) + 1 or not 0 < shape[0] <= info.max_batch_size:
                return False
            if batch not in (-1, shape[0]):
                return False
            batch = shape[0]
            shape = shape[1:]
        if len(shape) != len(dims):
            return False
        for d, n in zip(dims, shape, strict=True):
            if d != -1 and d != n:
                return False
    return True


def coerce_inputs(info: ModelInfo, inputs: Any) -> tuple[dict[str, NDArray[Any]], bool]:
    """Check names, types and shapes of `inputs` against `info`; add the batch dim where it is missing.

    Returns the arrays to send (by input name) and True when the batch dim was added to all of them.
    """
    if type(inputs) is dict and _already_fit(info, inputs):
        return inputs, False
    if not isinstance(inputs, dict):
        required = [t for t in info.inputs if not t.optional]
        if len(info.inputs) != 1 and len(required) != 1:
            raise UsageError(
                f"model {info.name!r} has {len(info.inputs)} inputs; name each one",
                hint="give NAME=VALUE for each of " + ", ".join(t.name for t in info.inputs),
            )
        inputs = {(required or list(info.inputs))[0].name: inputs}
    known = {t.name: t for t in info.inputs}
    for name in inputs:
        if name not in known:
            raise UsageError(
                f"model {info.name!r} has no input {name!r}",
                hint="its inputs are "
                + ", ".join(f"{t.name} ({t.wire_type} {list(t.dims)})" for t in info.inputs),
            )
    missing = [t.name for t in info.inputs if t.name not in inputs and not t.optional]
    if missing:
        raise UsageError(
            f"model {info.name!r} needs input(s) {', '.join(missing)}",
            hint="give each one with --input NAME=VALUE, or use --random",
        )
    arrays = {name: _to_wire(value, known[name]) for name, value in inputs.items()}
    added = False
    if info.batched:
        unbatched = [n for n, a in arrays.items() if a.ndim == len(known[n].dims)]
        if unbatched and len(unbatched) == len(arrays):
            arrays = {n: a.reshape((1, *a.shape)) for n, a in arrays.items()}
            added = True
        elif unbatched:
            raise UsageError(
                f"inputs {', '.join(unbatched)} lack the batch dim the other inputs have",
                hint=_shape_hint(info),
            )
    batch_sizes = set()
    for name, array in arrays.items():
        tensor = known[name]
        expected = ([-1] if info.batched else []) + list(tensor.dims)
        ok = array.ndim == len(expected) and all(
            e == -1 or e == s for e, s in zip(expected, array.shape, strict=False)
        )
        if not ok:
            shown = [("batch" if info.batched and i == 0 else d) for i, d in enumerate(expected)]
            hint = (
                _shape_hint(info)
                if info.batched
                else "the model does not batch: send exactly the config dims"
            )
            given = list(array.shape[1:] if added else array.shape)
            raise UsageError(
                f"input {name!r} of model {info.name!r} has shape {given}; "
                f"expected {shown} (-1 = any)".replace("'", ""),
                hint=hint,
            )
        if info.batched:
            batch_sizes.add(array.shape[0])
    if len(batch_sizes) > 1:
        raise UsageError(f"inputs of model {info.name!r} have different batch sizes {sorted(batch_sizes)}")
    if batch_sizes and max(batch_sizes) > info.max_batch_size:
        raise UsageError(
            f"batch size {max(batch_sizes)} is above max_batch_size {info.max_batch_size} of {info.name!r}",
            hint="split the batch or raise max_batch_size in config.pbtxt",
        )
    return arrays, added
