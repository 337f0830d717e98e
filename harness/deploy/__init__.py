"""Deployment of a group file to a Greengrass V2 core: the plan (pure) and its sending (docs/deploy.md)."""
