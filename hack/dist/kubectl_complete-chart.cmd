@echo off
rem kubectl (1.26 and later) runs kubectl_complete-chart from PATH to complete
rem "kubectl chart <TAB>": the candidates come from kubectl-chart itself.
kubectl chart __complete %*
