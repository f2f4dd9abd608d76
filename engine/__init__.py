"""The domain: process definitions, cases, deadlines, audit and supervision; knows nothing of Flask or HTTP."""
