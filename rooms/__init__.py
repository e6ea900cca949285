"""Video mediation rooms: signalling, the server-side peers (SFU), caucus and recording.

Built by the rooms issue; the foundation only reserves the package.
"""
