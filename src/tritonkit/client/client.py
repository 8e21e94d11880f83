"""An inference client that knows the model: data types, shapes and the batch dim come from the server.

`Client(url, protocol="http"|"grpc")` reads each model's metadata and config once (cached), fills in
wire data types (FP32, BYTES, BF16...), adds the implicit batch dimension when the caller left it
out, checks names and shapes before sending, and returns outputs as reshaped numpy arrays. The
tritonclient HTTP/gRPC client is created lazily on first use and reused for every request, one per
thread (a Client may be shared by threads).

This module is the connection (URL, lazy tritonclient, error translation), metadata and model control;
`info.py` holds what is known of a model, `tensors.py` the request building and output shaping.
"""

from __future__ import annotations

import functools
import re
import threading
from typing import TYPE_CHECKING, Any

from tritonkit.client.info import ModelInfo, model_info_from, shape_hint
from tritonkit.client.tensors import coerce_inputs, from_wire
from tritonkit.errors import InferenceError, ServerNotReadyError, UsageError, import_optional

if TYPE_CHECKING:
    from numpy.typing import NDArray

PROTOCOLS = ("http", "grpc")
DEFAULT_PORTS = {"http": 8000, "grpc": 8001}


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
        # One tritonclient client per thread: the HTTP one runs on gevent, whose hub belongs to the thread
        # that made it; a client shared by threads hung the others once its thread finished.
        self._local = threading.local()
        self._all_conns: list[Any] = []
        self._conns_lock = threading.Lock()
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

    @property
    def _conn(self) -> Any:
        """This thread's tritonclient client (None until `_connection` makes it)."""
        return getattr(self._local, "conn", None)

    @_conn.setter
    def _conn(self, value: Any) -> None:
        if value is not None:
            with self._conns_lock:
                self._all_conns.append(value)
        self._local.conn = value

    def close(self) -> None:
        """Close the connections of every thread that used this client."""
        with self._conns_lock:
            conns, self._all_conns = self._all_conns, []
            self._local = threading.local()
        errors = []
        for conn in conns:
            try:
                conn.close()
            except Exception as exc:  # close them all, then report the first failure
                errors.append(exc)
        if errors:
            raise errors[0]

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
            hint = shape_hint(info)
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
        info = model_info_from(model, meta, config)
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
                value = from_wire(value, tensor.wire_type)
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
