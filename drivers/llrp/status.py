"""LLRPStatus (§16.2.8.1): the success or error every LLRP response carries."""

from __future__ import annotations

from dataclasses import dataclass

from .encoding import (
    FIELD_ERROR,
    LLRP_STATUS,
    MAX_NESTING,
    PARAMETER_ERROR,
    STATUS_NAMES,
    U16,
    U16_U16,
    LlrpProtocolError,
    iter_params,
    need,
    only_one,
    read_utf8v,
    tlv,
    utf8v,
)


@dataclass(frozen=True, slots=True)
class FieldError:
    field_num: int
    code: int

    def encode(self) -> bytes:
        return tlv(FIELD_ERROR, U16_U16.pack(self.field_num, self.code))

    @classmethod
    def decode(cls, data: bytes, pos: int, end: int) -> "FieldError":
        need(data, pos, 4, end, "FieldError")
        return cls(*U16_U16.unpack_from(data, pos))


@dataclass(frozen=True, slots=True)
class ParameterError:
    param_type: int
    code: int
    field_error: FieldError | None = None
    parameter_error: "ParameterError | None" = None

    def encode(self) -> bytes:
        body = U16_U16.pack(self.param_type, self.code)
        if self.field_error:
            body += self.field_error.encode()
        if self.parameter_error:
            body += self.parameter_error.encode()
        return tlv(PARAMETER_ERROR, body)

    @classmethod
    def decode(cls, data: bytes, pos: int, end: int, depth: int = 0) -> "ParameterError":
        if depth > MAX_NESTING:
            raise LlrpProtocolError("ParameterError nested too deeply")
        need(data, pos, 4, end, "ParameterError")
        ptype, code = U16_U16.unpack_from(data, pos)
        params = iter_params(data, pos + 4, end, "ParameterError")
        return cls(
            ptype, code,
            only_one(data, params, FIELD_ERROR, "ParameterError", FieldError.decode),  # type: ignore[arg-type]
            only_one(data, params, PARAMETER_ERROR, "ParameterError",
                  lambda d, s, e: ParameterError.decode(d, s, e, depth + 1)),  # type: ignore[arg-type]
        )

    def describe(self) -> str:
        text = f"parameter {self.param_type}: {STATUS_NAMES.get(self.code, self.code)}"
        if self.field_error:
            text += f" (field {self.field_error.field_num}: {STATUS_NAMES.get(self.field_error.code, self.field_error.code)})"
        if self.parameter_error:
            text += f"; {self.parameter_error.describe()}"
        return text


@dataclass(frozen=True, slots=True)
class LlrpStatus:
    code: int = 0
    description: str = ""
    field_error: FieldError | None = None
    parameter_error: ParameterError | None = None

    @property
    def ok(self) -> bool:
        return self.code == 0

    @property
    def name(self) -> str:
        return STATUS_NAMES.get(self.code, f"status {self.code}")

    def describe(self) -> str:
        parts = [self.name]
        if self.description:
            parts.append(self.description)
        if self.field_error:
            parts.append(f"field {self.field_error.field_num}: {STATUS_NAMES.get(self.field_error.code, self.field_error.code)}")
        if self.parameter_error:
            parts.append(self.parameter_error.describe())
        return ": ".join(parts)

    def encode(self) -> bytes:
        body = U16.pack(self.code) + utf8v(self.description)
        if self.field_error:
            body += self.field_error.encode()
        if self.parameter_error:
            body += self.parameter_error.encode()
        return tlv(LLRP_STATUS, body)

    @classmethod
    def decode(cls, data: bytes, pos: int, end: int) -> "LlrpStatus":
        need(data, pos, 2, end, "LLRPStatus")
        (code,) = U16.unpack_from(data, pos)
        description, pos = read_utf8v(data, pos + 2, end, "LLRPStatus")
        params = iter_params(data, pos, end, "LLRPStatus")
        return cls(
            code, description,
            only_one(data, params, FIELD_ERROR, "LLRPStatus", FieldError.decode),  # type: ignore[arg-type]
            only_one(data, params, PARAMETER_ERROR, "LLRPStatus", ParameterError.decode),  # type: ignore[arg-type]
        )


def status_of(data: bytes, params: list[tuple[int, int, int]], where: str) -> LlrpStatus:
    return only_one(data, params, LLRP_STATUS, where, LlrpStatus.decode, required=True)  # type: ignore[return-value]
