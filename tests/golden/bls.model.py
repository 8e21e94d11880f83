"""Triton Python-backend BLS model bls, scaffolded by tritonkit.

It calls the model named by TARGET_MODEL in the same repository through
`pb_utils.InferenceRequest` (Business Logic Scripting) and returns that model's outputs.
"""

import numpy as np
import triton_python_backend_utils as pb_utils

TARGET_MODEL = 'py'
# Tensors (wire types): ['INT32'] in,
# ['INT32'] out.
INPUT_NAMES = ['a']
OUTPUT_NAMES = ['b']
# This model's input -> the target model's input, and the target's output -> this model's output.
TARGET_INPUTS = {'a': 'a'}
TARGET_OUTPUTS = {'b': 'b'}


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            inputs = [
                pb_utils.Tensor(TARGET_INPUTS[name], pb_utils.get_input_tensor_by_name(request, name).as_numpy())
                for name in INPUT_NAMES
            ]
            bls_request = pb_utils.InferenceRequest(
                model_name=TARGET_MODEL,
                requested_output_names=list(TARGET_OUTPUTS),
                inputs=inputs,
            )
            bls_response = bls_request.exec()
            if bls_response.has_error():
                raise pb_utils.TritonModelException(bls_response.error().message())
            outputs = [
                pb_utils.Tensor(
                    TARGET_OUTPUTS[target_name],
                    np.asarray(pb_utils.get_output_tensor_by_name(bls_response, target_name).as_numpy()),
                )
                for target_name in TARGET_OUTPUTS
            ]
            responses.append(pb_utils.InferenceResponse(output_tensors=outputs))
        return responses
