"""bls_pipeline: Business Logic Scripting over add_sub.

OUTPUT0 = 10 * add_sub.OUTPUT0 (the first output changes), OUTPUT1 = add_sub.OUTPUT1 (passed through).
"""

import numpy as np
import triton_python_backend_utils as pb_utils

TARGET_MODEL = "add_sub"


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            inputs = [
                pb_utils.Tensor(name, pb_utils.get_input_tensor_by_name(request, name).as_numpy())
                for name in ("INPUT0", "INPUT1")
            ]
            bls_request = pb_utils.InferenceRequest(
                model_name=TARGET_MODEL, requested_output_names=["OUTPUT0", "OUTPUT1"], inputs=inputs
            )
            bls_response = bls_request.exec()
            if bls_response.has_error():
                raise pb_utils.TritonModelException(bls_response.error().message())
            out0 = pb_utils.get_output_tensor_by_name(bls_response, "OUTPUT0").as_numpy()
            out1 = pb_utils.get_output_tensor_by_name(bls_response, "OUTPUT1").as_numpy()
            responses.append(
                pb_utils.InferenceResponse(
                    output_tensors=[
                        pb_utils.Tensor("OUTPUT0", (out0 * 10).astype(np.float32)),
                        pb_utils.Tensor("OUTPUT1", np.asarray(out1, dtype=np.float32)),
                    ]
                )
            )
        return responses
