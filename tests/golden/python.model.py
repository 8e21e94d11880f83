"""Triton Python-backend model py, scaffolded by tritonkit.

Replace the body of `execute` with your model's work.
"""

import json

import numpy as np
import triton_python_backend_utils as pb_utils

# Tensors (wire types): ['INT32'] in,
# ['INT32'] out.
INPUT_NAMES = ['a']
OUTPUT_NAMES = ['b']


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.output_dtypes = {
            o["name"]: pb_utils.triton_string_to_numpy(o["data_type"]) for o in config["output"]
        }

    def execute(self, requests):
        responses = []
        for request in requests:
            inputs = [pb_utils.get_input_tensor_by_name(request, name).as_numpy() for name in INPUT_NAMES]
            outputs = []
            for index, name in enumerate(OUTPUT_NAMES):
                # Placeholder: output i echoes input i (or the first input), cast to the output type.
                source = inputs[index] if index < len(inputs) else inputs[0]
                outputs.append(pb_utils.Tensor(name, np.asarray(source).astype(self.output_dtypes[name])))
            responses.append(pb_utils.InferenceResponse(output_tensors=outputs))
        return responses

    def finalize(self):
        pass
