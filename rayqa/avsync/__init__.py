"""The AV-sync pipeline's parts (the detector is rayqa/detectors/av_sync.py): shot boundaries
(:mod:`.shots`), face tracks and mouth crops (:mod:`.faces`), speech (:mod:`.speech`), the SyncNet
network and its loader (:mod:`.syncnet`), the built-in mouth-motion scorer (:mod:`.lipsync`) and
the event scorer for content without faces (:mod:`.events`)."""
