// A third-party "wealth assistant" running inside a bank's app. It talks to the bank's own services
// (the host signs and seals those calls: the app never holds a key), sees only the customer data its
// grant allows, and pays through the bank's risk-checked payment.
App({
  globalData: { api: 'https://ai.bank.example' },
  onError(msg) { console.error('wealth assistant:', msg) },
})
