"""Tally: an edge scanning gateway. Barcode, RFID and GPS reads to GS1 EPCIS 2.0 events over MQTT."""

__version__ = "0.1.0"
