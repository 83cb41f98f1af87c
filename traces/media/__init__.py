"""Media attachments of traces and observations: images, audio and files the SDK uploads.

traces/media/README.md describes the protocol (the langfuse SDK's), how uploads are verified,
deduplicated and deleted, and the calls other apps make to show media or hand it to a judge.
"""
