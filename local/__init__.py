"""The one-machine stack: emulator, resources, event pump, static server, mailbox."""
