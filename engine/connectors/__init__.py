"""Connectors: the engine's own external-task workers. Each serves a topic of service tasks
(camunda:type="external") by calling a data-sharing register (数据共享核验, 电子证照) over HTTP and
completing the task with the answer; registry.py is the HTTP contract, runner.py the worker loop,
setup.py builds them from the settings."""
