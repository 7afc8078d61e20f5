module beacon-fleet/tools/tfschema

go 1.19
