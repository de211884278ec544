"""Helpers the tests share: runs, the scripted model server, the browser, admin forms."""
