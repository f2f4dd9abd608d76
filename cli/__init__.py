"""The `yijianshi` command: its sub-commands and the production stack on one machine."""
