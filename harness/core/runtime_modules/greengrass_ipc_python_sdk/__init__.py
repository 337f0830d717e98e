"""Emulated core's IPC client: HTTP on localhost, the contract greengrasssdk is written against."""
