"""From the driver's options (and what the reader says it can do) to the LLRP setup it sends.

Pure functions: the driver calls them between GET_READER_CAPABILITIES and ADD_ROSPEC.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .params import (
    AISPEC_STOP_NULL,
    EVENT_ANTENNA,
    EVENT_GPI,
    EVENT_READER_EXCEPTION,
    IMPINJ_INVENTORY_SEARCH_MODE,
    ROSPEC_DISABLED,
    RO_REPORT_N_TAGS_OR_END_OF_AISPEC,
    START_TRIGGER_NULL,
    STOP_TRIGGER_NULL,
    VENDOR_IMPINJ,
    AISpec,
    AISpecStopTrigger,
    AntennaConfiguration,
    C1G2InventoryCommand,
    C1G2SingulationControl,
    EventsAndReports,
    GeneralDeviceCapabilities,
    InventoryParameterSpec,
    KeepaliveSpec,
    RFTransmitter,
    ROReportSpec,
    ROSpec,
    ROSpecStartTrigger,
    ROSpecStopTrigger,
    ReaderEventNotificationSpec,
    RegulatoryCapabilities,
    TagReportContentSelector,
    custom_param,
)

#: the ROSpec this gateway owns on the reader
ROSPEC_ID = 0x7A11

#: Impinj InventorySearchMode values (Impinj LTK ImpinjInventorySearchType)
SEARCH_MODES = {
    "reader-selected": 0,
    "single-target": 1,
    "dual-target": 2,
    "single-target-suppression": 3,  # "TagFocus"
    "single-target-b-to-a": 5,
    "dual-target-b-to-a-select": 6,
}

#: what every tag report carries
REPORT_CONTENT = TagReportContentSelector(
    antenna_id=True, peak_rssi=True, first_seen=True, last_seen=True, seen_count=True, channel_index=True,
)


class SetupError(ValueError):
    """The options ask for something this reader cannot do (antenna, power)."""


@dataclass(frozen=True)
class InventorySettings:
    antennas: tuple[int, ...] = ()
    transmit_power_dbm: float | None = None
    session: int = 1
    tag_population: int = 32
    search_mode: str = "reader-default"
    report_every_n_tags: int = 1
    keepalive_ms: int = 5000


def transmit_power_index(levels: tuple[tuple[int, int], ...], dbm: float) -> tuple[int, float]:
    """Index of the strongest table entry not above `dbm` (the weakest if all are above).

    Levels are (index, hundredths of dBm) from the reader's TransmitPowerLevelTable.
    """
    if not levels:
        raise SetupError("the reader reports no transmit power table, so transmit_power cannot be set")
    wanted = round(dbm * 100)
    at_or_below = [entry for entry in levels if entry[1] <= wanted]
    index, value = max(at_or_below, key=lambda e: e[1]) if at_or_below else min(levels, key=lambda e: e[1])
    return index, value / 100


def check_antennas(antennas: tuple[int, ...], general: GeneralDeviceCapabilities | None) -> None:
    if general is None or not general.max_antennas:
        return
    missing = [a for a in antennas if a > general.max_antennas]
    if missing:
        raise SetupError(f"antenna {missing[0]} does not exist (the reader has {general.max_antennas})")


def build_rospec(settings: InventorySettings, regulatory: RegulatoryCapabilities | None,
                 impinj: bool) -> tuple[ROSpec, str | None]:
    """The ROSpec (and a note for the log about what was chosen, e.g. the real power)."""
    note = None
    transmitter = None
    if settings.transmit_power_dbm is not None:
        levels = regulatory.transmit_power_levels if regulatory else ()
        index, actual = transmit_power_index(levels, settings.transmit_power_dbm)
        transmitter = RFTransmitter(hop_table_id=1, channel_index=1, transmit_power=index)
        note = f"transmit power {actual:g} dBm (table index {index})"
    extra = ()
    if settings.search_mode not in ("reader-default",) and impinj:
        extra = (custom_param(VENDOR_IMPINJ, IMPINJ_INVENTORY_SEARCH_MODE,
                              struct.pack("!H", SEARCH_MODES[settings.search_mode])),)
    command = C1G2InventoryCommand(
        singulation=C1G2SingulationControl(session=settings.session, tag_population=settings.tag_population),
        extra=extra,
    )
    antenna_ids = settings.antennas or (0,)  # AntennaID 0: every antenna
    configs = tuple(AntennaConfiguration(antenna_id=a, transmitter=transmitter, inventory=(command,)) for a in antenna_ids)
    rospec = ROSpec(
        rospec_id=ROSPEC_ID,
        priority=0,
        current_state=ROSPEC_DISABLED,
        # started by START_ROSPEC and run until STOP_ROSPEC: no trigger races on enable
        start_trigger=ROSpecStartTrigger(START_TRIGGER_NULL),
        stop_trigger=ROSpecStopTrigger(STOP_TRIGGER_NULL),
        ai_specs=(AISpec(antenna_ids=antenna_ids, stop_trigger=AISpecStopTrigger(AISPEC_STOP_NULL),
                         inventory_specs=(InventoryParameterSpec(spec_id=1, antenna_configurations=configs),)),),
        report_spec=ROReportSpec(trigger=RO_REPORT_N_TAGS_OR_END_OF_AISPEC, n=settings.report_every_n_tags,
                                 content=REPORT_CONTENT),
    )
    return rospec, note


def reader_config(settings: InventorySettings) -> dict:
    """SET_READER_CONFIG fields: keepalives, antenna/exception/GPI events, no holding of reports."""
    return dict(
        keepalive=KeepaliveSpec(settings.keepalive_ms),
        # GPI events: a door sensor or light barrier wired to the reader opens and closes read cycles.
        event_spec=ReaderEventNotificationSpec(((EVENT_ANTENNA, True), (EVENT_READER_EXCEPTION, True),
                                                (EVENT_GPI, True))),
        events_and_reports=EventsAndReports(hold_on_reconnect=False),
        ro_report_spec=ROReportSpec(trigger=RO_REPORT_N_TAGS_OR_END_OF_AISPEC, n=settings.report_every_n_tags,
                                    content=REPORT_CONTENT),
    )
