"""Split a Lambda function ARN into its fields, as greengrasssdk's Lambda client expects."""

import re

# arn:aws:lambda:region:account:function:name[:qualifier]; region and account may be empty
# (the core's system functions: arn:aws:lambda:::function:GGShadowService).
_ARN = re.compile(
    r"^arn:(?P<partition>[^:]+):lambda:(?P<region>[^:]*):(?P<account>[^:]*):function:(?P<name>[^:]+)"
    r"(?::(?P<qualifier>[^:]+))?$"
)


class FunctionArnFields:
    def __init__(self, function_arn):
        match = _ARN.match(function_arn or "")
        if match is None:
            raise ValueError(f"Cannot parse given string as a function ARN: {function_arn!r}")
        self.partition = match.group("partition")
        self.region = match.group("region")
        self.account_id = match.group("account")
        self.name = match.group("name")
        self.qualifier = match.group("qualifier") or ""

    @property
    def unqualified_arn(self):
        return f"arn:{self.partition}:lambda:{self.region}:{self.account_id}:function:{self.name}"

    @staticmethod
    def build_function_arn(unqualified_arn, qualifier=None):
        return f"{unqualified_arn}:{qualifier}" if qualifier else unqualified_arn
