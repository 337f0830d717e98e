"""The application around its Lambdas: what a run of it means (a fresh rain_prediction in the cloud
shadow), and the `raincheck` command line that runs it. Built on the harness (`harness.rig`), which knows
Greengrass and nothing of this application."""
