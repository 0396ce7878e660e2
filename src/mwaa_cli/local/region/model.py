"""MWAA's inputs checked as the service checks them, and the ``Environment`` it describes.

Shapes and constraints (required members, lengths, ranges, patterns, enums) come from
botocore's own service model, walked generically; the messages are AWS's ("1 validation error
detected: Value 'x' at 'executionRoleArn' failed to satisfy constraint: …"). MWAA's rules
beyond the model (documented environment classes, versions, worker ranges) follow.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from ..airflow.versions import DEFAULT, VERSIONS
from ..api.errors import AwsError

ENVIRONMENT_CLASSES = (
    "mw1.micro",
    "mw1.small",
    "mw1.medium",
    "mw1.large",
    "mw1.xlarge",
    "mw1.2xlarge",
)
# what MWAA picks when CreateEnvironment leaves a member out (per environment class)
_WEB_SERVERS = {"mw1.micro": 1}
_SCHEDULERS = {"mw1.micro": 1}
LOG_MODULES = ("DagProcessingLogs", "SchedulerLogs", "TaskLogs", "WebserverLogs", "WorkerLogs")
_LOG_GROUP = {
    "DagProcessingLogs": "DAGProcessing",
    "SchedulerLogs": "Scheduler",
    "TaskLogs": "Task",
    "WebserverLogs": "WebServer",
    "WorkerLogs": "Worker",
}


@functools.cache
def _service():
    import botocore.session

    return botocore.session.get_session().get_service_model("mwaa")


def input_shape(operation: str):
    return _service().operation_model(operation).input_shape


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _problems(shape, value: Any, where: str) -> list[str]:
    """AWS's constraint messages for ``value`` against botocore ``shape``."""
    meta = shape.metadata
    kind = shape.type_name
    shown = "null" if value is None else f"'{str(value)[:200]}'"
    out: list[str] = []
    if kind == "structure":
        if not isinstance(value, dict):
            return [_must(shown, where, "be an object")]
        for name in shape.required_members:
            if value.get(name) is None:
                out.append(
                    f"Value null at '{_join(where, name)}' failed to satisfy constraint: "
                    "Member must not be null"
                )
        for name, member in value.items():
            if name in shape.members and member is not None:
                out += _problems(shape.members[name], member, _join(where, name))
        return out
    if kind == "list":
        if not isinstance(value, list):
            return [_must(shown, where, "be a list")]
        out += _length(meta, len(value), shown, where)
        for item in value:
            out += _problems(shape.member, item, f"{where}.member")
        return out
    if kind == "map":
        if not isinstance(value, dict):
            return [_must(shown, where, "be a map")]
        out += _length(meta, len(value), shown, where)
        for key, item in value.items():
            out += _problems(shape.key, key, f"{where}.key")
            out += _problems(shape.value, item, f"{where}.value")
        return out
    if kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return [_must(shown, where, "be an integer")]
        if "min" in meta and value < meta["min"]:
            out.append(
                f"Value '{value}' at '{where}' failed to satisfy constraint: Member must have "
                f"value greater than or equal to {meta['min']}"
            )
        if "max" in meta and value > meta["max"]:
            out.append(
                f"Value '{value}' at '{where}' failed to satisfy constraint: Member must have "
                f"value less than or equal to {meta['max']}"
            )
        return out
    if kind == "boolean":
        if not isinstance(value, bool):
            return [_must(shown, where, "be a boolean")]
        return out
    if kind == "string":
        if not isinstance(value, str):
            return [_must(shown, where, "be a string")]
        out += _length(meta, len(value), shown, where)
        pattern = _pattern(meta.get("pattern"))
        if pattern is not None and not pattern.fullmatch(value):
            out.append(
                f"Value {shown} at '{where}' failed to satisfy constraint: Member must satisfy "
                f"regular expression pattern: {meta['pattern']}"
            )
        if shape.enum and value not in shape.enum:
            out.append(
                f"Value {shown} at '{where}' failed to satisfy constraint: Member must satisfy "
                f"enum value set: [{', '.join(shape.enum)}]"
            )
    return out


@functools.cache
def _pattern(text: str | None) -> re.Pattern | None:
    """The model's (Java) pattern in Python's dialect: Unicode classes as their nearest
    equivalents (``\\p{L}``, ``\\p{N}`` -> ``\\w``, ``\\p{Z}`` -> ``\\s``)."""
    if text is None:
        return None
    for java, python in (("\\p{L}", "\\w"), ("\\p{N}", "\\w"), ("\\p{Z}", "\\s")):
        text = text.replace(java, python)
    try:
        return re.compile(text, re.DOTALL)
    except re.error:
        return None


def _must(shown: str, where: str, what: str) -> str:
    return f"Value {shown} at '{where}' failed to satisfy constraint: Member must {what}"


def _join(where: str, name: str) -> str:
    return f"{where}.{_camel(name)}" if where else _camel(name)


def _length(meta: dict, size: int, shown: str, where: str) -> list[str]:
    low, high = meta.get("min"), meta.get("max")
    if (low is not None and size < low) or (high is not None and size > high):
        bounds = f"between {low or 0} and {high}" if high is not None else f"at least {low}"
        return [
            f"Value {shown} at '{where}' failed to satisfy constraint: Member must have length "
            f"{bounds}"
        ]
    return []


def validation_error(problems: list[str]) -> AwsError:
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return AwsError(
        400, "ValidationException", f"{count} validation {noun} detected: " + "; ".join(problems)
    )


def check(operation: str, params: dict, skip: tuple[str, ...] = ("Name",)) -> None:
    """Raise a ValidationException naming every member of ``params`` the model refuses."""
    shape = input_shape(operation)
    problems = []
    for name in shape.required_members:
        if name not in skip and params.get(name) is None:
            problems.append(
                f"Value null at '{_camel(name)}' failed to satisfy constraint: Member must not "
                "be null"
            )
    for name, value in params.items():
        if name not in shape.members or name in skip:
            continue
        problems += _problems(shape.members[name], value, _camel(name))
    if problems:
        raise validation_error(problems)


def unknown_members(operation: str, params: dict) -> None:
    """Members the operation does not take (a typo in a hand-written JSON file)."""
    known = set(input_shape(operation).members)
    extra = sorted(set(params) - known)
    if extra:
        raise AwsError(
            400,
            "ValidationException",
            f"{operation} does not take {', '.join(extra)[:300]}",
        )


def check_mwaa_rules(definition: dict, *, creating: bool) -> None:
    """What MWAA refuses beyond the model, for a (merged) environment definition."""
    version = definition.get("AirflowVersion", DEFAULT)
    if version not in VERSIONS:
        raise AwsError(
            400,
            "ValidationException",
            f"Invalid AirflowVersion '{version}': supported versions are {', '.join(VERSIONS)}",
        )
    env_class = definition.get("EnvironmentClass", "mw1.small")
    if env_class not in ENVIRONMENT_CLASSES:
        raise AwsError(
            400,
            "ValidationException",
            f"Invalid EnvironmentClass '{env_class}': valid values are "
            f"{', '.join(ENVIRONMENT_CLASSES)}",
        )
    shaped = describe_sizes(definition)
    if shaped["MinWorkers"] > shaped["MaxWorkers"]:
        raise AwsError(
            400, "ValidationException", "MinWorkers must be less than or equal to MaxWorkers"
        )
    if shaped["MinWebservers"] > shaped["MaxWebservers"]:
        raise AwsError(
            400,
            "ValidationException",
            "MinWebservers must be less than or equal to MaxWebservers",
        )
    if env_class == "mw1.micro" and shaped["Schedulers"] != 1:
        raise AwsError(400, "ValidationException", "mw1.micro environments run 1 scheduler")
    if env_class != "mw1.micro" and not 2 <= shaped["Schedulers"] <= 5:
        raise AwsError(400, "ValidationException", "Schedulers must be between 2 and 5")
    network = definition.get("NetworkConfiguration") or {}
    if creating and len(network.get("SubnetIds") or []) != 2:
        raise AwsError(
            400,
            "ValidationException",
            "NetworkConfiguration.SubnetIds must name exactly 2 subnets (in two "
            "Availability Zones)",
        )
    for key in (
        "PluginsS3ObjectVersion",
        "RequirementsS3ObjectVersion",
        "StartupScriptS3ObjectVersion",
    ):
        path_key = key.replace("ObjectVersion", "Path")
        if definition.get(key) and not definition.get(path_key):
            raise AwsError(400, "ValidationException", f"{key} needs {path_key}")


def describe_sizes(definition: dict) -> dict[str, int]:
    env_class = definition.get("EnvironmentClass", "mw1.small")
    web = _WEB_SERVERS.get(env_class, 2)
    return {
        "MinWorkers": definition.get("MinWorkers", 1),
        "MaxWorkers": definition.get("MaxWorkers", 1 if env_class == "mw1.micro" else 10),
        "MinWebservers": definition.get("MinWebservers", web),
        "MaxWebservers": definition.get("MaxWebservers", web),
        "Schedulers": definition.get("Schedulers", _SCHEDULERS.get(env_class, 2)),
    }


def logging_configuration(definition: dict, name: str, region: str, account: str) -> dict:
    """The output form of LoggingConfiguration: every module, with its log group when on.
    Without any LoggingConfiguration, MWAA turns task logs on at INFO and the rest off (what
    terraform's basic aws_mwaa_environment acceptance test checks of a real environment)."""
    given = definition.get("LoggingConfiguration")
    if given is None:
        given = {"TaskLogs": {"Enabled": True, "LogLevel": "INFO"}}
    out = {}
    for module in LOG_MODULES:
        one = given.get(module) or {}
        enabled = bool(one.get("Enabled", False))
        entry: dict[str, Any] = {"Enabled": enabled, "LogLevel": one.get("LogLevel", "INFO")}
        if enabled:
            entry["CloudWatchLogGroupArn"] = (
                f"arn:aws:logs:{region}:{account}:log-group:airflow-{name}-{_LOG_GROUP[module]}"
            )
        out[module] = entry
    return out


def merge_update(current: dict, update: dict) -> dict:
    """The definition UpdateEnvironment leaves: given members over the current ones
    (NetworkConfiguration: only its security groups change)."""
    merged = dict(current)
    for key, value in update.items():
        if key == "WorkerReplacementStrategy":
            continue
        if key == "NetworkConfiguration":
            network = dict(current.get("NetworkConfiguration") or {})
            network["SecurityGroupIds"] = value.get("SecurityGroupIds", [])
            merged[key] = network
        else:
            merged[key] = value
    return merged
