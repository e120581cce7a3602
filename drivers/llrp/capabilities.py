"""GET_READER_CAPABILITIES content (§16.2.3): antennas, vendor and model, transmit power table."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .encoding import (
    AIR_PROTOCOL_EPC_C1G2,
    C1G2_UHF_RF_MODE_TABLE,
    C1G2_UHF_RF_MODE_TABLE_ENTRY,
    FREQUENCY_HOP_TABLE,
    FREQUENCY_INFORMATION,
    GENERAL_DEVICE_CAPABILITIES,
    GPIO_CAPABILITIES,
    PER_ANTENNA_AIR_PROTOCOL,
    RECEIVE_SENSITIVITY_TABLE_ENTRY,
    REGULATORY_CAPABILITIES,
    TRANSMIT_POWER_LEVEL_TABLE_ENTRY,
    U16,
    U16_U16,
    U32,
    UHF_BAND_CAPABILITIES,
    RawParam,
    iter_params,
    need,
    others,
    read_utf8v,
    tlv,
    utf8v,
)


@dataclass(frozen=True, slots=True)
class GeneralDeviceCapabilities:
    max_antennas: int
    can_set_antenna_properties: bool = False
    has_utc_clock: bool = True
    #: IANA Private Enterprise Number (Impinj 25882, Zebra/Motorola 161, ...)
    manufacturer: int = 0
    model: int = 0
    firmware: str = ""
    receive_sensitivities: tuple[tuple[int, int], ...] = ((1, 0),)
    gpi_count: int = 0
    gpo_count: int = 0
    #: (antenna ID, air protocol IDs)
    antenna_protocols: tuple[tuple[int, tuple[int, ...]], ...] = ()
    extra: tuple[RawParam, ...] = ()

    def encode(self) -> bytes:
        flags = (0x8000 if self.can_set_antenna_properties else 0) | (0x4000 if self.has_utc_clock else 0)
        body = U16.pack(self.max_antennas) + U16.pack(flags) + U32.pack(self.manufacturer) + U32.pack(self.model)
        body += utf8v(self.firmware)
        body += b"".join(tlv(RECEIVE_SENSITIVITY_TABLE_ENTRY, struct.pack("!Hh", i, v)) for i, v in self.receive_sensitivities)
        body += tlv(GPIO_CAPABILITIES, U16_U16.pack(self.gpi_count, self.gpo_count))
        antennas = self.antenna_protocols or tuple((a, (AIR_PROTOCOL_EPC_C1G2,)) for a in range(1, self.max_antennas + 1))
        for antenna, protocols in antennas:
            body += tlv(PER_ANTENNA_AIR_PROTOCOL, U16_U16.pack(antenna, len(protocols)) + bytes(protocols))
        body += b"".join(p.encode() for p in self.extra)
        return tlv(GENERAL_DEVICE_CAPABILITIES, body)

    @classmethod
    def decode(cls, data: bytes, pos: int, end: int) -> "GeneralDeviceCapabilities":
        need(data, pos, 12, end, "GeneralDeviceCapabilities")
        max_antennas, flags, manufacturer, model = struct.unpack_from("!HHII", data, pos)
        firmware, pos = read_utf8v(data, pos + 12, end, "GeneralDeviceCapabilities")
        params = iter_params(data, pos, end, "GeneralDeviceCapabilities")
        sensitivities, protocols, gpi, gpo = [], [], 0, 0
        for ptype, start, stop in params:
            if ptype == RECEIVE_SENSITIVITY_TABLE_ENTRY:
                need(data, start, 4, stop, "ReceiveSensitivityTableEntry")
                sensitivities.append(struct.unpack_from("!Hh", data, start))
            elif ptype == GPIO_CAPABILITIES:
                need(data, start, 4, stop, "GPIOCapabilities")
                gpi, gpo = U16_U16.unpack_from(data, start)
            elif ptype == PER_ANTENNA_AIR_PROTOCOL:
                need(data, start, 4, stop, "PerAntennaAirProtocol")
                antenna, count = U16_U16.unpack_from(data, start)
                need(data, start + 4, count, stop, "PerAntennaAirProtocol")
                protocols.append((antenna, tuple(data[start + 4:start + 4 + count])))
        return cls(max_antennas, bool(flags & 0x8000), bool(flags & 0x4000), manufacturer, model, firmware,
                   tuple(sensitivities), gpi, gpo, tuple(protocols),
                   others(data, params, {RECEIVE_SENSITIVITY_TABLE_ENTRY, GPIO_CAPABILITIES, PER_ANTENNA_AIR_PROTOCOL},
                           "GeneralDeviceCapabilities"))


@dataclass(frozen=True, slots=True)
class RegulatoryCapabilities:
    country_code: int = 0
    communications_standard: int = 0
    #: TransmitPowerLevelTable: (index, power in hundredths of dBm)
    transmit_power_levels: tuple[tuple[int, int], ...] = ()
    #: the rest of UHFBandCapabilities (FrequencyInformation, RF mode table), kept as is
    uhf_extra: tuple[RawParam, ...] = ()
    extra: tuple[RawParam, ...] = ()

    def encode(self) -> bytes:
        body = U16_U16.pack(self.country_code, self.communications_standard)
        if self.transmit_power_levels or self.uhf_extra:
            uhf = b"".join(tlv(TRANSMIT_POWER_LEVEL_TABLE_ENTRY, struct.pack("!Hh", i, v))
                           for i, v in self.transmit_power_levels)
            uhf += b"".join(p.encode() for p in self.uhf_extra)
            body += tlv(UHF_BAND_CAPABILITIES, uhf)
        body += b"".join(p.encode() for p in self.extra)
        return tlv(REGULATORY_CAPABILITIES, body)

    @classmethod
    def decode(cls, data: bytes, pos: int, end: int) -> "RegulatoryCapabilities":
        need(data, pos, 4, end, "RegulatoryCapabilities")
        country, standard = U16_U16.unpack_from(data, pos)
        params = iter_params(data, pos + 4, end, "RegulatoryCapabilities")
        levels: list[tuple[int, int]] = []
        uhf_extra: tuple[RawParam, ...] = ()
        for ptype, start, stop in params:
            if ptype == UHF_BAND_CAPABILITIES:
                inner = iter_params(data, start, stop, "UHFBandCapabilities")
                for itype, s, e in inner:
                    if itype == TRANSMIT_POWER_LEVEL_TABLE_ENTRY:
                        need(data, s, 4, e, "TransmitPowerLevelTableEntry")
                        levels.append(struct.unpack_from("!Hh", data, s))
                uhf_extra = others(data, inner, {TRANSMIT_POWER_LEVEL_TABLE_ENTRY}, "UHFBandCapabilities")
        return cls(country, standard, tuple(levels), uhf_extra,
                   others(data, params, {UHF_BAND_CAPABILITIES}, "RegulatoryCapabilities"))


def frequency_information(frequencies_khz: tuple[int, ...], hop_table_id: int = 1) -> RawParam:
    """FrequencyInformation with one hop table (for a simulated reader's capabilities)."""
    hop = tlv(FREQUENCY_HOP_TABLE, bytes([hop_table_id, 0]) + U16.pack(len(frequencies_khz))
              + b"".join(U32.pack(f) for f in frequencies_khz))
    return RawParam(FREQUENCY_INFORMATION, bytes([0x80]) + hop)


def c1g2_rf_mode_table(mode_ids: tuple[int, ...]) -> RawParam:
    """A C1G2 UHF RF mode table: one plain entry per mode identifier (simulated readers)."""
    entries = b"".join(tlv(C1G2_UHF_RF_MODE_TABLE_ENTRY,
                           struct.pack("!IBBBBIIIII", m, 0x40, 1, 1, 2, 640_000, 1500, 6250, 25000, 0))
                       for m in mode_ids)
    return RawParam(C1G2_UHF_RF_MODE_TABLE, entries)
