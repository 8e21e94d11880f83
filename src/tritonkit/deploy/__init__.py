"""Beyond one machine: push a repository to object storage; Kubernetes and KServe manifests from the spec."""
