"""A local MWAA region: many environments behind one control-plane endpoint.

- :mod:`.model`: inputs checked against botocore's model and MWAA's rules; the Environment shape
- :mod:`.sources`: buckets (S3 through boto3, or local folders) and the DAG sync
- :mod:`.children`: one ``mwaa local serve`` process per environment
- :mod:`.registry`: the environments, their status and provisioning
- :mod:`.api`: the region's endpoint
- :mod:`.server`: ``mwaa local up/down/status/logs``
"""
