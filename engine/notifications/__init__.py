"""Notifications (消息通知): what a case command or a passed deadline tells applicants, clerks and the
12345 hotline platform. planning.py turns a command's events into outbox rows written in the
command's own transaction; dispatcher.py delivers them through the channels of channels.py with
retries; hotline.py builds and signs the 12345 webhook's body and watches for its revisit."""
