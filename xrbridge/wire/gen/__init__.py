"""Generated protobuf/gRPC code for protos/xrbridge/v1 (scripts/gen_protos.sh; do not edit)."""
