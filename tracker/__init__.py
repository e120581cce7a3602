"""The central tracker: ingests a fleet's EPCIS events from MQTT into one store and answers where things are.

It scales out on existing engines: MQTT 5 shared subscriptions split the load between
instances, PostgreSQL is the shared store (SQLite is the embedded default). It may use
`gateway.decode` for identifiers and GS1's schema files, never the gateway daemon.
"""
