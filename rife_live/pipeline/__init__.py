"""rife_live.pipeline"""
