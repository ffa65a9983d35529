from .ris_ce_loss import RISCrossEntropyLoss

__all__ = ['RISCrossEntropyLoss']
