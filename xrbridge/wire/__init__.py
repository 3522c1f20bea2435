"""Wire formats: msgpack (HoloLens) and protobuf/gRPC (cells), one schema (protos/xrbridge/v1)."""
