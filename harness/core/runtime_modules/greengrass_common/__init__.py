"""Emulated core's greengrass_common: environment and ARN helpers used by greengrasssdk."""
