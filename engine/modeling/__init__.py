"""Process models: loading and checking BPMN/DMN files, the Camunda dialect, deployment, lint and scenario figures."""
